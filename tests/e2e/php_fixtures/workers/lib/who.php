<?php
// What a request sees of the worker (or classic script) that answers it.
function who(array $boot, int $served): string
{
    header('Content-Type: application/json');
    return json_encode([
        'worker' => $boot['WORKER_NAME'] ?? null,
        'served' => $served,
        'script' => basename($_SERVER['SCRIPT_FILENAME']),
        'script_name' => $_SERVER['SCRIPT_NAME'],
        'uri' => $_SERVER['REQUEST_URI'],
        'app_env' => $_SERVER['APP_ENV'] ?? null,
        'getenv_app_env' => getenv('APP_ENV'),
        'request_flag' => $_SERVER['FRANKENPHP_WORKER'] ?? null,
        'boot_flag' => $boot['FRANKENPHP_WORKER'] ?? null,
        'boot_torus_flag' => $boot['TORUS_WORKER'] ?? null,
    ]);
}
