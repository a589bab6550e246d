from localvox.cli import main

raise SystemExit(main())
