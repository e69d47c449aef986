"""The ``egate`` command line: one group of commands per journey."""
