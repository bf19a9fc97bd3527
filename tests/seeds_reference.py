"""The seeds' pure-NumPy code, kept here verbatim in behaviour as the reference for fastbp.compat."""
import random

import numpy as np


# ---- seed 001 -----------------------------------------------------------------------------------
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def deriv_sigmoid(x):
    return sigmoid(x) * (1 - sigmoid(x))


def mse_loss(y_true, y_pred):
    return np.mean((y_true - y_pred) ** 2)


class MLP:
    def __init__(self, input_size=2, hidden_size=3, output_size=1):
        self.weights = {'h': np.random.randn(input_size, hidden_size),
                        'out': np.random.randn(hidden_size, output_size)}
        self.bias = {'h': np.zeros((1, hidden_size)), 'out': np.zeros((1, output_size))}

    def forward(self, x):
        self.z_h = np.dot(x, self.weights['h']) + self.bias['h']
        self.a_h = sigmoid(self.z_h)
        self.z_out = np.dot(self.a_h, self.weights['out']) + self.bias['out']
        return sigmoid(self.z_out)

    def backward(self, x, y_true, y_pred, lr=0.1):
        loss = mse_loss(y_true, y_pred)
        deriv_L_z_out = 2 * (y_pred - y_true) * deriv_sigmoid(self.z_out)
        deriv_L_w_out = np.dot(self.a_h.T, deriv_L_z_out)
        deriv_L_b_out = deriv_L_z_out
        deriv_L_z_h = np.dot(deriv_L_z_out, self.weights['out'].T) * deriv_sigmoid(self.z_h)
        deriv_L_w_h = np.dot(x.T, deriv_L_z_h)
        deriv_L_b_h = deriv_L_z_h
        self.weights['h'] -= lr * deriv_L_w_h
        self.bias['h'] -= lr * deriv_L_b_h.sum(axis=0)
        self.weights['out'] -= lr * deriv_L_w_out
        self.bias['out'] -= lr * deriv_L_b_out.sum(axis=0)
        return loss

    def train(self, x_train, y_train, epochs=100, lr=0.1):
        for epoch in range(epochs):
            for x, y in zip(x_train, y_train):
                x = np.reshape(x, (1, -1))
                y = np.reshape(y, (-1, 1))
                y_pred = self.forward(x)
                loss = self.backward(x, y, y_pred, lr=lr)
            if epoch % 10 == 0:
                print(f'epoch:{epoch}, loss:{loss:.4f}')
        return self


# ---- seed 002 -----------------------------------------------------------------------------------
def relu(z):
    return np.array(z > 0) * z


def sigmoidBackward(dA, cacheA):
    s = sigmoid(cacheA)
    diff = s * (1 - s)
    return dA * diff


def reluBackward(dA, cacheA):
    dZ = np.array(dA, copy=True)
    dZ[cacheA <= 0] = 0
    return dZ


def iniPara(laydims):
    np.random.seed(1)
    parameters = {}
    for i in range(1, len(laydims)):
        parameters['W' + str(i)] = np.random.randn(laydims[i], laydims[i - 1]) / np.sqrt(laydims[i - 1])
        parameters['b' + str(i)] = np.zeros((laydims[i], 1))
    return parameters


def forwardLinear(W, b, A_prev):
    return np.dot(W, A_prev) + b, (W, A_prev, b)


def forwardLinearActivation(W, b, A_prev, activation):
    Z, cacheL = forwardLinear(W, b, A_prev)
    A = sigmoid(Z) if activation == 'sigmoid' else relu(Z)
    return A, (cacheL, Z)


def forwardModel(X, parameters):
    layerdim = len(parameters) // 2
    caches = []
    A_prev = X
    for i in range(1, layerdim):
        A_prev, cache = forwardLinearActivation(parameters['W' + str(i)], parameters['b' + str(i)], A_prev, 'relu')
        caches.append(cache)
    AL, cache = forwardLinearActivation(parameters['W' + str(layerdim)], parameters['b' + str(layerdim)],
                                        A_prev, 'sigmoid')
    caches.append(cache)
    return AL, caches


def linearBackward(dZ, cache):
    W, A_prev, b = cache
    m = A_prev.shape[1]
    dW = 1 / m * np.dot(dZ, A_prev.T)
    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def linearActivationBackward(dA, cache, activation):
    cacheL, cacheA = cache
    dZ = reluBackward(dA, cacheA) if activation == 'relu' else sigmoidBackward(dA, cacheA)
    return linearBackward(dZ, cacheL)


def backwardModel(AL, Y, caches):
    L = len(caches)
    Y = Y.reshape(AL.shape)
    diffs = {}
    dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    dA_prev, dW, db = linearActivationBackward(dAL, caches[L - 1], 'sigmoid')
    diffs['dA' + str(L)], diffs['dW' + str(L)], diffs['db' + str(L)] = dA_prev, dW, db
    for l in reversed(range(L - 1)):
        dA_prev, dW, db = linearActivationBackward(dA_prev, caches[l], 'relu')
        diffs['dA' + str(l + 1)], diffs['dW' + str(l + 1)], diffs['db' + str(l + 1)] = dA_prev, dW, db
    return diffs


def updateParameters(parameters, diffs, lr):
    """The post's formulas 7 and 8."""
    for l in range(1, len(parameters) // 2 + 1):
        parameters['W' + str(l)] = parameters['W' + str(l)] - lr * diffs['dW' + str(l)]
        parameters['b' + str(l)] = parameters['b' + str(l)] - lr * diffs['db' + str(l)]
    return parameters


# ---- Nielsen's network.py (Python 3) ----------------------------------------------------------
class NielsenNetwork:
    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        if test_data:
            n_test = len(test_data)
        n = len(training_data)
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [training_data[k:k + mini_batch_size] for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)
            if test_data:
                print("Epoch {0}: {1} / {2}".format(j, self.evaluate(test_data), n_test))
            else:
                print("Epoch {0} complete".format(j))

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * deriv_sigmoid(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * deriv_sigmoid(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def evaluate(self, test_data):
        test_results = [(np.argmax(self.feedforward(x)), y) for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in test_results)
