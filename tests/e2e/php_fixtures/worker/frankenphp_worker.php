<?php
// A worker written for FrankenPHP runs unchanged.
$requests = 0;
$flag = $_SERVER['FRANKENPHP_WORKER']; // the worker's own $_SERVER, at boot
$handler = function () use (&$requests, $flag) {
    $requests++;
    echo "frankenphp worker, request $requests, FRANKENPHP_WORKER=" . $flag;
};
for ($running = true; $running;) {
    $running = frankenphp_handle_request($handler);
}
