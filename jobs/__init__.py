"""Work that talks to the outside: the Nexar client and the poller."""
