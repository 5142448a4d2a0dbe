<?php
// A worker that crashes its process on /segv, and boots as slowly as the
// milliseconds in markers/boot_ms say (so a restart is visible in /readyz).
usleep((int)@file_get_contents(__DIR__ . '/markers/boot_ms') * 1000);
$served = 0;
while (torus_handle_request(function () use (&$served) {
    $served++;
    if ($_SERVER['REQUEST_URI'] === '/segv') {
        posix_kill(getmypid(), SIGSEGV);
    }
    echo "worker ", getmypid(), " request ", $served, "\n";
})) {
}
