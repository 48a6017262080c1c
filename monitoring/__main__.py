from monitoring.generate import main

main()
