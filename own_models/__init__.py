"""Own model builders, declared in params.yaml as models.<name>.builder: own_models.<module>:<function>.

Every stage that builds a model depends on this folder, so DVC retrains when a builder changes."""
