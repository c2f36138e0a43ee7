"""pprlib: Personalized Prompt for Sequential Recommendation (PPR), small and readable.

The flow: raw files or generator -> validated dataset -> protocol split -> pretrain backbone
-> tune (ft / PPR(light) / PPR(full)) -> evaluate -> tidy results -> figures -> book.
"""

__version__ = "0.1.0"
