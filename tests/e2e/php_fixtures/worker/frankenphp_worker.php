<?php
// A worker written for FrankenPHP runs unchanged.
$requests = 0;
$handler = function () use (&$requests) {
    $requests++;
    echo "frankenphp worker, request $requests, FRANKENPHP_WORKER=" . $_SERVER['FRANKENPHP_WORKER'];
};
for ($running = true; $running;) {
    $running = frankenphp_handle_request($handler);
}
