"""Content-based cross-sell: similar items by product name, category, brand and price band.

(being written by the second "models B" engineer; see COORDINATION.txt)
"""
