"""Synthesis: raw decoding, colour maths and Lightroom-equivalent operators.

Pure numpy / colour-science / rawpy / opencv / tifffile; imports nothing else of ours.
"""
