"""Simulated people: travellers with documents and faces who walk through emulated devices."""
