"""yunwang command line: thin verbs that wire the rooms together."""
