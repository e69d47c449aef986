"""The ISO/IEC 7816-4 words of the eMRTD stack: CLA bits, instructions, MSE, status words.

Named once for both sides of the card edge: the inspection system sends these
commands and reads these status words, the virtual chip
(``hardware.emulators.emrtd``) answers them, and ``describe_status`` says
what a status word means in an error message.
"""

from __future__ import annotations

# CLA bits: secure messaging with an authenticated header (b4 b3 = 11),
# command chaining (b5), the logical channel (b2 b1).
CLA_SM = 0x0C
CLA_CHAINING = 0x10
CLA_CHANNEL = 0x03

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
# READ BINARY with the offset in data object 54 and the data in 53 (offsets past 32767).
INS_READ_BINARY_ODD = 0xB1
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_INTERNAL_AUTHENTICATE = 0x88
INS_MSE = 0x22
INS_GENERAL_AUTHENTICATE = 0x86
INS_GET_RESPONSE = 0xC0

# The data objects of the odd-INS READ BINARY.
TAG_OFFSET = 0x54
TAG_DISCRETIONARY = 0x53
# GENERAL AUTHENTICATE's data field: the dynamic authentication data template.
TAG_DYNAMIC_AUTHENTICATION = 0x7C

# MSE (MANAGE SECURITY ENVIRONMENT) P1-P2: Set AT for mutual authentication
# (PACE), Set AT for internal authentication (chip authentication with AES),
# Set KAT (chip authentication with 3DES).
MSE_SET_AT_PACE = (0xC1, 0xA4)
MSE_SET_AT_CA = (0x41, 0xA4)
MSE_SET_KAT = (0x41, 0xA6)

SW_SUCCESS = 0x9000
SW_END_OF_FILE = 0x6282
SW_AUTHENTICATION_FAILED = 0x6300
# 63Cx: verification failed, x tries left.
SW_TRIES_LEFT = 0x63C0
SW_WRONG_LENGTH = 0x6700
SW_LOGICAL_CHANNEL = 0x6881
SW_SM_NOT_SUPPORTED = 0x6882
SW_SECURITY_STATUS = 0x6982
SW_AUTHENTICATION_BLOCKED = 0x6983
SW_REFERENCE_DATA_UNUSABLE = 0x6984
SW_CONDITIONS = 0x6985
SW_NO_CURRENT_EF = 0x6986
SW_SM_MISSING = 0x6987
SW_SM_INCORRECT = 0x6988
SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_DATA_NOT_FOUND = 0x6A88
SW_WRONG_OFFSET = 0x6B00
SW_INS = 0x6D00
SW_CLA = 0x6E00
SW_UNKNOWN = 0x6F00

# What the status words an inspection system meets mean, for messages.
_MEANINGS = {
    SW_SUCCESS: "success",
    SW_END_OF_FILE: "end of file reached before the requested length",
    SW_AUTHENTICATION_FAILED: "authentication failed",
    SW_WRONG_LENGTH: "wrong length",
    SW_LOGICAL_CHANNEL: "logical channel not supported",
    SW_SM_NOT_SUPPORTED: "secure messaging not supported",
    SW_SECURITY_STATUS: "security status not satisfied",
    SW_AUTHENTICATION_BLOCKED: "authentication method blocked",
    SW_REFERENCE_DATA_UNUSABLE: "reference data not usable",
    SW_CONDITIONS: "conditions of use not satisfied",
    SW_NO_CURRENT_EF: "command not allowed",
    SW_SM_MISSING: "expected secure messaging data objects missing",
    SW_SM_INCORRECT: "incorrect secure messaging data objects",
    SW_WRONG_DATA: "incorrect parameters in the data field",
    SW_FILE_NOT_FOUND: "file or application not found",
    SW_WRONG_P1P2: "incorrect parameters P1-P2",
    SW_DATA_NOT_FOUND: "referenced data not found",
    SW_WRONG_OFFSET: "wrong parameters (offset outside the file)",
    SW_INS: "instruction not supported",
    SW_CLA: "class not supported",
    SW_UNKNOWN: "no precise diagnosis",
}


def describe_status(sw: int) -> str:
    """A short English description of an ISO 7816-4 status word."""
    if sw in _MEANINGS:
        return _MEANINGS[sw]
    if sw >> 8 == 0x61:
        return f"{sw & 0xFF} more bytes available"
    if sw >> 8 == 0x6C:
        return f"wrong Le, {sw & 0xFF} bytes available"
    if sw & 0xFFF0 == SW_TRIES_LEFT:
        return f"verification failed, {sw & 0x0F} tries left"
    return "unknown status"
