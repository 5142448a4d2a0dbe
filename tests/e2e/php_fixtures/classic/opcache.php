<?php
header('Content-Type: application/json');
$status = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo json_encode([
    'enabled' => is_array($status) && $status['opcache_enabled'],
    'cached_scripts' => is_array($status) ? $status['opcache_statistics']['num_cached_scripts'] : null,
]);
