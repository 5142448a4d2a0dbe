<?php
// Routes of the "web" middleware group: cookies and the session.

use App\Http\Controllers\DemoController;
use Illuminate\Support\Facades\Route;

Route::get('/', [DemoController::class, 'home']);
Route::get('/session', [DemoController::class, 'session']);
Route::get('/throw', [DemoController::class, 'throw']);
