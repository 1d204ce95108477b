int dummy_selfchecks;
