#!/usr/bin/env python3
"""CTest's entry for the Python module's tests: runs pytest on this folder and prints its summary;
exit 77 (a skip for CTest) when pytest or numpy cannot be imported."""
import os
import sys

try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    print(f"SKIP: the Python module's tests need pytest and numpy ({e}): pip install pytest numpy")
    sys.exit(77)

sys.exit(pytest.main(["-q", "-rs", "-p", "no:cacheprovider", os.path.dirname(os.path.abspath(__file__)),
                      *sys.argv[1:]]))
