<?php
// The front controller: every path that is neither a file nor a directory with an index.php.
header('Content-Type: application/json');
echo json_encode([
    'front' => true,
    'REQUEST_URI' => $_SERVER['REQUEST_URI'],
    'SCRIPT_NAME' => $_SERVER['SCRIPT_NAME'],
]);
