<?php
header('Content-Type: application/json');
echo json_encode(['late' => $_SERVER['TORUS_E2E_LATE'] ?? null,
    'env' => $_SERVER['TORUS_E2E_ENV'] ?? null, 'count' => count($_SERVER)]);
