<?php
// The working directory while the script runs, then in a shutdown function.
register_shutdown_function(function () {
    echo 'shutdown ', getcwd(), "\n";
});
echo 'run ', getcwd(), "\n";
