from bench.crypto.run import main

raise SystemExit(main())
