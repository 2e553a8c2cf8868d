from hdh_migrate.cli.main import main

main()
