from collaborlog.cli import main

main()
