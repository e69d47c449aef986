"""Face verification 1:1: is the person in the gate the person on the chip photo?"""
