import sys

from pagerag.pipelines.cli import main

sys.exit(main())
