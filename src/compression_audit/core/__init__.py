"""What every pipeline step shares: params.yaml as typed config, user errors, atomic writes, progress, device
and precision, the stage scripts' command-line behaviour, reading other stages' JSON, and figures."""
