<?php
// ini_get() of each ?key[]=...
header('Content-Type: application/json');
$values = [];
foreach ((array)($_GET['key'] ?? []) as $key) {
    $values[$key] = ini_get($key);
}
echo json_encode($values);
