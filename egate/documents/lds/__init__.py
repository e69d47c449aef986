"""The Logical Data Structure of an eMRTD chip (ICAO Doc 9303 part 10).

Its files (EF.COM, the data groups, the security infos), parsed and encoded.
"""
