"""Synthesis: raw decoding, colour maths and Lightroom-equivalent operators.

Pure numpy / colour-science / rawpy / opencv / tifffile; imports nothing else of ours.
"""

__version__ = "0.1.0"
