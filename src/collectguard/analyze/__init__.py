"""The analysis pipeline: normalize → extract → attribute → detect → evaluate → verdict.

Owns `Analyzer` (the one entry point both the consumer check and the lender side call),
the check contract models (`result`), platform attribution (`attribution`) and advice
(`advice`). Pure: no CLI, web or database imports; data files are read once at start-up.
"""
