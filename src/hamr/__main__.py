from hamr.cli import main

main()
