# The compiled parser of _baskets.c; xsell.mining.basket_file is its Python side.

def parse(
    buffer: bytes, delimiter: int, whitespace: bool, /
) -> tuple[bytearray, bytearray, bytearray, bytearray]: ...
