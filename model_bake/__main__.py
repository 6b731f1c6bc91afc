import sys

from model_bake.cli import main

sys.exit(main())
