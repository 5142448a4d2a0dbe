<?php
// Counts this client's visits; ?set=VALUE stores a value in its session.
session_start();
$_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;
if (isset($_GET['set'])) {
    $_SESSION['value'] = $_GET['set'];
}
header('Content-Type: application/json');
echo json_encode([
    'id' => session_id(),
    'visits' => $_SESSION['visits'],
    'value' => $_SESSION['value'] ?? null,
    'handler' => ini_get('session.save_handler'),
]);
