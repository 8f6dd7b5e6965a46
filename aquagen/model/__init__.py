"""The farm model, independent of any database schema: domain numbers, the stage timeline, the
sites, the fleet plan, random streams, one batch's simulated life and the FIFO feed inventory."""
