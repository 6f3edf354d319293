from jobdata.cli import main

main()
