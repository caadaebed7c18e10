"""The server's composition root: ``root`` builds and starts the parts, ``lifecycle`` stops
them in reverse, ``run`` runs the process (signals, ``run_server``)."""
