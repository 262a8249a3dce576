"""The front ends: the command line, predict, live, the demo and the web app."""
