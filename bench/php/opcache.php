<?php
// bench/run asks every PHP server for this once, to report when opcache is off.
header('Content-Type: text/plain');
$status = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo is_array($status) && !empty($status['opcache_enabled']) ? 'on' : 'off';
