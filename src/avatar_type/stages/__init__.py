"""One module per DVC stage: ``stages/<name>.py`` parses its command line, loads params.yaml and
calls ``avatar_type.stages.<name>.run``, which reads its params.yaml sections through
``avatar_type.params.section`` and writes the stage's outputs (as dvc.yaml lists them)."""
