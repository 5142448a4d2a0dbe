<?php
// The loop of a worker written the way Laravel Octane's and Symfony Runtime's
// FrankenPHP workers are: ignore_user_abort(true), a MAX_REQUESTS loop around
// frankenphp_handle_request(), gc_collect_cycles() between requests.
// $handler is set by the script that includes this file.
// KEEP_USER_ABORT=1 (env=): a worker that leaves ignore_user_abort off.
if (!getenv('KEEP_USER_ABORT')) {
    ignore_user_abort(true);
}

$maxRequests = (int) ($_SERVER['MAX_REQUESTS'] ?? 0);
for ($nbRequests = 0; !$maxRequests || $nbRequests < $maxRequests; ++$nbRequests) {
    $keepRunning = frankenphp_handle_request($handler);
    gc_collect_cycles();
    if (!$keepRunning) {
        break;
    }
}
