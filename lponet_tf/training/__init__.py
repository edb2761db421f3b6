"""Training: YAML configs (:mod:`.config`), datasets of a config, the trainer behind
``lponet train`` and the paper's objectives. Importing this package imports nothing heavy.
"""
