"""aofctl commands the lab adds (entry-point group `aofctl.commands`)."""
