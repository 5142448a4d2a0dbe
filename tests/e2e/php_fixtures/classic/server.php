<?php
// What the request looks like from inside: $_SERVER, the other superglobals,
// getenv() and php://input read twice.
header('Content-Type: application/json');
echo json_encode([
    'SERVER' => $_SERVER,
    'GET' => $_GET,
    'POST' => $_POST,
    'COOKIE' => $_COOKIE,
    'REQUEST' => $_REQUEST,
    'getenv' => getenv('TORUS_E2E_ENV'),
    'input1' => file_get_contents('php://input'),
    'input2' => file_get_contents('php://input'),
    'now' => microtime(true),
]);
