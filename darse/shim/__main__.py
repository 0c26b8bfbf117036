from darse.shim.server import main

main()
