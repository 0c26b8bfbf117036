from darse.cli import entry

entry()
