from hamr.cli.main import main

main()
