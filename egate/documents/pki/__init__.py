"""The document PKI: CSCA trust stores, passive authentication, test PKIs.

Passive authentication checks a chip's Security Object (EF.SOD) against the
trust store of the issuing states' CSCA certificates.
"""
