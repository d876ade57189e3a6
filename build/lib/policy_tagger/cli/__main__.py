import sys

from policy_tagger.cli.main import main

sys.exit(main())
