"""The data steps: fetch (download or import, split, write the prepared format) and corrupt (the corrupted test
sets), with the datasets' registry, the ImageFolder import, the prepared format and the training augmentation."""
