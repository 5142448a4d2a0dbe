<?php
// ext/filter's raw copy of the request's variables, next to a $_SERVER the script changed.
$_SERVER['REQUEST_METHOD'] = 'CHANGED';
header('Content-Type: application/json');
echo json_encode([
    'method' => filter_input(INPUT_SERVER, 'REQUEST_METHOD'),
    'custom' => filter_input(INPUT_SERVER, 'HTTP_X_CUSTOM'),
    'has_custom' => filter_has_var(INPUT_SERVER, 'HTTP_X_CUSTOM'),
    'dotted' => filter_input(INPUT_SERVER, 'HTTP_X_DOT_TED'),
    'uri' => filter_input_array(INPUT_SERVER, ['REQUEST_URI' => FILTER_DEFAULT])['REQUEST_URI'] ?? null,
    'port_int' => filter_input(INPUT_SERVER, 'SERVER_PORT', FILTER_VALIDATE_INT),
    'env_in_copy' => filter_has_var(INPUT_SERVER, 'PATH'),
    'server_method' => $_SERVER['REQUEST_METHOD'],
    'server_custom' => $_SERVER['HTTP_X_CUSTOM'] ?? null,
    'server_dotted' => $_SERVER['HTTP_X_DOT_TED'] ?? null,
]);
