"""Converters from the raw benchmark releases to the files mstkd reads.

Pure functions (and small classes) that the command-line tools in
``tools/dataset_converters/`` call; the networks they run are passed in, so
tests can use tiny random ones. The formats written are those of
``docs/datasets.md`` (the MST-Distill release layouts):

* :mod:`.ravdess`: raw RAVDESS speech videos + wavs -> face crops and MFCCs.
* :mod:`.crisismmd`: CrisisMMD v2.0 TSVs + images -> ResNet-50 / BERTweet
  features.
* :mod:`.vggsound`: VGGSound clips -> VGG19 / VGGish features per second.
"""
