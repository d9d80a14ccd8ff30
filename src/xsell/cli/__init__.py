"""The ``xsell`` command line: thin commands over the library."""
